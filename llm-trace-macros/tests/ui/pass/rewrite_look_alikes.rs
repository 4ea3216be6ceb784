//! Call-site rewriting leaves user types with `.chat().create(..)` methods working exactly as
//! before, sync or async, `create` by reference or by value; nested items are not rewritten.
#![deny(warnings)]

use llm_trace::traced_llm;

struct Client;
struct Chat(u32);
struct Embeddings;

impl Client {
    fn chat(&self) -> Chat {
        Chat(2)
    }
    fn embeddings(&self) -> Embeddings {
        Embeddings
    }
}

impl Chat {
    fn create(&self, x: u32) -> u32 {
        x * self.0
    }
    async fn create_stream(self, x: u32) -> Vec<u32> {
        vec![x; self.0 as usize]
    }
}

impl Embeddings {
    fn create(self, text: &str) -> usize {
        text.len()
    }
}

#[traced_llm]
fn sync_calls(client: &Client) -> u32 {
    client.chat().create(1);
    if client.chat().create(2) == 4 {
        client.chat().create(client.chat().create(3)) + client.embeddings().create("ab") as u32
    } else {
        0
    }
}

#[traced_llm]
async fn async_calls(client: &Client) -> Vec<u32> {
    let mut all = client.chat().create_stream(1).await;
    let more = async { client.chat().create_stream(2).await }.await;
    all.extend(more);
    all
}

#[traced_llm]
fn nested_item(client: &Client) -> u32 {
    fn helper(client: &Client) -> u32 {
        client.chat().create(5)
    }
    helper(client)
}

#[traced_llm(rewrite = false)]
fn not_rewritten(client: &Client) -> u32 {
    client.chat().create(6)
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let mut f = std::pin::pin!(f);
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn main() {
    assert_eq!(sync_calls(&Client), 14);
    assert_eq!(block_on(async_calls(&Client)), [1, 1, 2, 2]);
    assert_eq!(nested_item(&Client), 10);
    assert_eq!(not_rewritten(&Client), 12);
}
