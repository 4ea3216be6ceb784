use llm_trace::traced_llm;

struct Opaque;

#[traced_llm(metadata(value = Opaque))]
fn classify() {}

fn main() {
    classify();
}
