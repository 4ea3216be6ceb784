use llm_trace::traced_llm;

#[traced_llm]
const fn answer() -> u32 {
    42
}

const ANSWER: u32 = answer();

fn main() {
    let _ = ANSWER + answer();
}
