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
}
