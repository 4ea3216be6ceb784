use llm_trace::traced_llm;

#[traced_llm(tags = [support, "billing"])]
fn identifiers() {}

#[traced_llm(tags = "support")]
fn single_string() {}

#[traced_llm(tags = ["support", 3])]
fn number() {}

fn main() {
    identifiers();
    single_string();
    number();
}
