use llm_trace::traced_llm;

#[traced_llm(name = classify_ticket)]
fn name_not_a_string() {}

#[traced_llm(metadata = user)]
fn metadata_with_eq(user: u32) -> u32 {
    user
}

#[traced_llm(metadata(user))]
fn metadata_without_value(user: u32) -> u32 {
    user
}

#[traced_llm(session)]
fn session_without_value() {}

fn main() {
    name_not_a_string();
    let _ = metadata_with_eq(1) + metadata_without_value(1);
    session_without_value();
}
