// Harness for README.md's Rust examples (tests/readme-snippets.sh inserts the example's
// function definitions at @SNIPPET_TOP@ and its statements, `use` lines included, at
// @SNIPPET_BODY@, in a main whose errors are boxed). fetch_token_somehow stands for the
// application's own token source.

#[allow(dead_code)]
fn fetch_token_somehow(params: &ably_auth::TokenParams) -> ably_auth::Result<String> {
    Ok(format!("token-for-{}", params.client_id.as_deref().unwrap_or("anyone")))
}

// @SNIPPET_TOP@

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // @SNIPPET_BODY@
    Ok(())
}
