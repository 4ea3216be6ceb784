use llm_trace::traced_llm;

#[traced_llm]
#[derive(Debug, Default)]
struct Classifier {
    model: String,
}

#[traced_llm(tags = ["x"])]
impl Classifier {
    fn classify(&self) -> &str {
        &self.model
    }
}

trait Summarize {
    #[traced_llm]
    fn summarize(&self) -> String;
}

fn main() {
    let c = Classifier::default();
    println!("{c:?} {}", c.classify());
}
