mod common;
use ably_auth::Method;
use common::*;

#[test]
fn key_token_flow_over_http_and_https() {
    for server in [http_server(), tls_server()] {
        let auth = token_auth_with_key(&server);
        let header = auth.authorization_header().unwrap();
        let token = bearer_token(&header);
        assert!(!token.is_empty());
        let response = auth
            .request(Method::Get, "/channels/smoke", &[], &[], None)
            .and_then(ably_auth::HttpResponse::error_for_status)
            .unwrap();
        assert_eq!(
            response.status,
            200,
            "{}",
            String::from_utf8_lossy(&response.body)
        );
        assert!(auth.time().unwrap() > 1_700_000_000_000);
        assert_eq!(server.tokens_issued(), 1);
    }
}
