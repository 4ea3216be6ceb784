use llm_trace::traced_llm;

#[traced_llm(tag = ["support"])]
fn classify() -> u32 {
    1
}

#[traced_llm(level = "info")]
fn summarize() -> u32 {
    2
}

fn main() {
    // No "cannot find function" here: the functions are still emitted.
    let _ = classify() + summarize();
}
