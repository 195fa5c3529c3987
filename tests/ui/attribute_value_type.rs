use trace_llm::trace_llm;

struct Config {
    retries: u8,
}

#[trace_llm(attributes(config = config))]
fn f(config: &Config) -> u8 {
    config.retries
}

fn main() {}
