use trace_llm::trace_llm;

struct MyStream;

#[trace_llm(kind = "chat", stream)]
fn f() -> MyStream {
    MyStream
}

fn main() {}
