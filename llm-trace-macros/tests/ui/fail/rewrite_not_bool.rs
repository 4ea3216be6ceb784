use llm_trace::traced_llm;

#[traced_llm(rewrite = maybe)]
fn classify() {}

#[traced_llm(rewrite = "false")]
fn summarize() {}

fn main() {
    classify();
    summarize();
}
