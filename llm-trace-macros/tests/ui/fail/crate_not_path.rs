use llm_trace::traced_llm;

#[traced_llm(crate = 3)]
fn classify() {}

#[traced_llm(crate = "not a path")]
fn summarize() {}

fn main() {
    classify();
    summarize();
}
