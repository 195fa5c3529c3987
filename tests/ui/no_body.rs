use trace_llm::trace_llm;

trait Agent {
    #[trace_llm(kind = "agent")]
    fn run(&self);
}

fn main() {}
