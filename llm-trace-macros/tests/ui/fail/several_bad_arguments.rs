use llm_trace::traced_llm;

// Every mistake in one compile, each at its token.
#[traced_llm(nmae = "classify", tags = ["support", 7], rewrite = "no")]
fn classify() -> u32 {
    1
}

fn main() {
    let _ = classify();
}
