//! The client's address: the peer, unless trusted reverse proxies are configured, in which
//! case the address the outermost trusted proxy saw (from `X-Forwarded-For`).

use actix_web::HttpRequest;

use crate::auth::login::ClientInfo;

pub fn client_ip(req: &HttpRequest, trusted_proxies: usize) -> Option<String> {
    let peer = req.peer_addr().map(|a| a.ip().to_string());
    if trusted_proxies == 0 {
        return peer;
    }
    let forwarded: Vec<String> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_owned())
        .filter(|s| s.parse::<std::net::IpAddr>().is_ok())
        .collect();
    // Each trusted proxy appended one entry: the client is `trusted_proxies` from the right.
    forwarded
        .len()
        .checked_sub(trusted_proxies)
        .and_then(|i| forwarded.get(i).cloned())
        .or(peer)
}

/// The scheme the client used: the connection's, unless trusted reverse proxies are
/// configured, in which case the one the outermost trusted proxy saw (`X-Forwarded-Proto`,
/// read like `X-Forwarded-For`).
pub fn client_scheme(req: &HttpRequest, trusted_proxies: usize) -> &'static str {
    let own = if req.app_config().secure() {
        "https"
    } else {
        "http"
    };
    if trusted_proxies == 0 {
        return own;
    }
    let forwarded: Vec<&'static str> = req
        .headers()
        .get_all("x-forwarded-proto")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| match s.trim().to_ascii_lowercase().as_str() {
            "https" => Some("https"),
            "http" => Some("http"),
            _ => None,
        })
        .collect();
    forwarded
        .len()
        .checked_sub(trusted_proxies)
        .and_then(|i| forwarded.get(i).copied())
        // A single proxy-set value (proxies usually overwrite rather than append).
        .or_else(|| (forwarded.len() == 1).then(|| forwarded[0]))
        .unwrap_or(own)
}

/// The client address for audit log lines ("-" when unknown).
pub fn ip_for_log(req: &HttpRequest) -> String {
    let trusted = req
        .app_data::<actix_web::web::Data<super::state::AppState>>()
        .map_or(0, |s| s.settings.trusted_proxy_count);
    client_ip(req, trusted).unwrap_or_else(|| "-".to_owned())
}

pub fn client_info(req: &HttpRequest, trusted_proxies: usize) -> ClientInfo {
    ClientInfo {
        ip: client_ip(req, trusted_proxies),
        user_agent: req
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn peer_address_unless_proxies_are_trusted() {
        let req = TestRequest::default()
            .peer_addr("10.0.0.9:5000".parse().unwrap())
            .insert_header(("X-Forwarded-For", "6.6.6.6, 1.2.3.4"))
            .to_http_request();
        assert_eq!(client_ip(&req, 0).as_deref(), Some("10.0.0.9"));
        assert_eq!(client_ip(&req, 1).as_deref(), Some("1.2.3.4"));
        assert_eq!(client_ip(&req, 2).as_deref(), Some("6.6.6.6"));
        // More trusted proxies than entries: fall back to the peer.
        assert_eq!(client_ip(&req, 3).as_deref(), Some("10.0.0.9"));
    }

    #[test]
    fn scheme_from_the_connection_unless_proxies_are_trusted() {
        let req = TestRequest::default()
            .insert_header(("X-Forwarded-Proto", "https"))
            .to_http_request();
        assert_eq!(client_scheme(&req, 0), "http");
        assert_eq!(client_scheme(&req, 1), "https");
        assert_eq!(client_scheme(&req, 2), "https");
        let req = TestRequest::default()
            .insert_header(("X-Forwarded-Proto", "http, https"))
            .to_http_request();
        assert_eq!(client_scheme(&req, 1), "https");
        assert_eq!(client_scheme(&req, 2), "http");
        let req = TestRequest::default()
            .insert_header(("X-Forwarded-Proto", "javascript"))
            .to_http_request();
        assert_eq!(client_scheme(&req, 1), "http");
    }
}
