use llm_trace::traced_llm;

#[traced_llm(tags = ["a"], name = "x", tags = ["b"])]
fn twice() {}

#[traced_llm(metadata(user = 1, user = 2))]
fn duplicate_key() {}

fn main() {
    twice();
    duplicate_key();
}
