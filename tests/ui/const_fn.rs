use trace_llm::trace_llm;

#[trace_llm]
const fn f() -> u8 {
    1
}

fn main() {}
