//! Which hosts Ably requests go to (REC1, REC2) and on which scheme and port (RSC18).
//! Pure: options in, a host plan out.

use super::error::{ErrorInfo, Result, codes};

/// The default primary domain (REC1a).
pub const DEFAULT_PRIMARY: &str = "main.realtime.ably.net";

/// The host-related client options (REC1, REC2, RSC18, TO3k).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointOptions {
    /// `endpoint` (REC1b): a routing policy id, `nonprod:<id>`, or a hostname.
    pub endpoint: Option<String>,
    /// Deprecated `environment` (REC1c).
    pub environment: Option<String>,
    /// Deprecated `restHost` (REC1d1).
    pub rest_host: Option<String>,
    /// Deprecated `realtimeHost` (REC1d2).
    pub realtime_host: Option<String>,
    /// `fallbackHosts` (REC2a); `Some(vec![])` disables fallback.
    pub fallback_hosts: Option<Vec<String>>,
    /// Deprecated `fallbackHostsUseDefault` (REC2b).
    pub fallback_hosts_use_default: bool,
    /// `tls` (RSC18): HTTPS when true (the default).
    pub tls: bool,
    /// `port` for plain HTTP (default 80).
    pub port: u16,
    /// `tlsPort` for HTTPS (default 443).
    pub tls_port: u16,
}

impl Default for EndpointOptions {
    fn default() -> Self {
        EndpointOptions {
            endpoint: None,
            environment: None,
            rest_host: None,
            realtime_host: None,
            fallback_hosts: None,
            fallback_hosts_use_default: false,
            tls: true,
            port: 80,
            tls_port: 443,
        }
    }
}

/// Where requests go: the primary domain first, then the fallbacks (in random order,
/// chosen by the transport).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPlan {
    /// The primary domain (REC1).
    pub primary: String,
    /// The fallback domains (REC2); empty disables fallback (RSC15m).
    pub fallbacks: Vec<String>,
    /// `true` for `https`.
    pub tls: bool,
    /// The port on every host.
    pub port: u16,
}

impl HostPlan {
    /// `scheme://host[:port]` for `host`; the port is left out when it is the scheme's default,
    /// so the `Host` header is the bare host name (RSC15j).
    pub fn base_url(&self, host: &str) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]") // an IPv6 literal (REC1b2)
        } else {
            host.to_owned()
        };
        let default_port = if self.tls { 443 } else { 80 };
        if self.port == default_port {
            format!("{scheme}://{host}")
        } else {
            format!("{scheme}://{host}:{}", self.port)
        }
    }
}

fn conflict(message: &str) -> ErrorInfo {
    ErrorInfo::new(codes::BAD_REQUEST, 0, format!("invalid options: {message}"))
}

fn five_fallbacks(prefix: &str, domain: &str) -> Vec<String> {
    ["a", "b", "c", "d", "e"]
        .iter()
        .map(|letter| format!("{prefix}.{letter}.{domain}"))
        .collect()
}

/// Resolve the options into a [`HostPlan`] (REC1, REC2), rejecting the conflicting
/// combinations of REC1b1, REC1c1 and REC2a1 with 40000.
pub fn plan(options: &EndpointOptions) -> Result<HostPlan> {
    let deprecated_host = options.environment.is_some()
        || options.rest_host.is_some()
        || options.realtime_host.is_some()
        || options.fallback_hosts_use_default;
    if options.endpoint.is_some() && deprecated_host {
        return Err(conflict(
            "endpoint cannot be combined with environment, restHost, realtimeHost or fallbackHostsUseDefault (REC1b1)",
        ));
    }
    if options.environment.is_some()
        && (options.rest_host.is_some() || options.realtime_host.is_some())
    {
        return Err(conflict(
            "environment cannot be combined with restHost or realtimeHost (REC1c1)",
        ));
    }
    if options.fallback_hosts.is_some() && options.fallback_hosts_use_default {
        return Err(conflict(
            "fallbackHosts cannot be combined with fallbackHostsUseDefault (REC2a1)",
        ));
    }
    for (name, value) in [
        ("endpoint", &options.endpoint),
        ("environment", &options.environment),
        ("restHost", &options.rest_host),
        ("realtimeHost", &options.realtime_host),
    ] {
        if let Some(value) = value
            && (value.is_empty() || value.chars().any(|c| c.is_whitespace() || c == '/'))
        {
            return Err(ErrorInfo::invalid_value(format!(
                "{name} must be a non-empty host name or routing policy without spaces or '/'"
            )));
        }
    }

    let default_fallbacks = || five_fallbacks("main", "fallback.ably-realtime.com");
    let (primary, derived_fallbacks) = if let Some(endpoint) = &options.endpoint {
        if endpoint.contains('.') || endpoint.contains("::") || endpoint == "localhost" {
            (endpoint.clone(), Vec::new()) // REC1b2, REC2c2
        } else if let Some(id) = endpoint.strip_prefix("nonprod:") {
            (
                format!("{id}.realtime.ably-nonprod.net"),
                five_fallbacks(id, "fallback.ably-realtime-nonprod.com"),
            ) // REC1b3, REC2c3
        } else {
            (
                format!("{endpoint}.realtime.ably.net"),
                five_fallbacks(endpoint, "fallback.ably-realtime.com"),
            ) // REC1b4, REC2c4
        }
    } else if let Some(environment) = &options.environment {
        (
            format!("{environment}.realtime.ably.net"),
            five_fallbacks(environment, "fallback.ably-realtime.com"),
        ) // REC1c2, REC2c5
    } else if let Some(host) = options
        .rest_host
        .as_ref()
        .or(options.realtime_host.as_ref())
    {
        (host.clone(), Vec::new()) // REC1d1, REC1d2, REC2c6
    } else {
        (DEFAULT_PRIMARY.to_owned(), default_fallbacks()) // REC1a, REC2c1
    };
    let fallbacks = match &options.fallback_hosts {
        Some(hosts) => hosts.clone(), // REC2a2
        None if options.fallback_hosts_use_default => default_fallbacks(), // REC2b
        None => derived_fallbacks,
    };
    let plan = HostPlan {
        primary,
        fallbacks,
        tls: options.tls,
        port: if options.tls {
            options.tls_port
        } else {
            options.port
        },
    };
    check_hosts(&plan)?;
    Ok(plan)
}

/// Every host of `plan` makes a URL the one URL parser accepts ([`super::url::Url`]): a
/// host name or IP literal, and a port 1 to 65535. Errors: 40003 naming the host.
fn check_hosts(plan: &HostPlan) -> Result<()> {
    if plan.port == 0 {
        return Err(ErrorInfo::invalid_value(
            "port 0 cannot be connected to (ports are 1 to 65535)",
        ));
    }
    for host in std::iter::once(&plan.primary).chain(&plan.fallbacks) {
        let parsed = super::url::Url::parse(&plan.base_url(host)).and_then(|url| {
            if host.contains(['@', '?', '#', '\\'])
                || url.has_userinfo()
                || url.path() != "/"
                || url.query().is_some()
            {
                Err(super::url::UrlError(
                    "it holds '@', '?', '#' or '\\', which a host name may not".into(),
                ))
            } else {
                Ok(url)
            }
        });
        if let Err(e) = parsed {
            return Err(ErrorInfo::invalid_value(format!(
                "the REST host {:?} is not a valid host name or IP address ({e}); a port is \
                 set with the port and tlsPort options, not in the host",
                super::material::truncate(host, 64)
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(f: impl FnOnce(&mut EndpointOptions)) -> Result<HostPlan> {
        let mut options = EndpointOptions::default();
        f(&mut options);
        plan(&options)
    }

    #[test]
    fn default_primary_and_fallbacks() {
        // rest/unit/REC1a/default-primary-domain-0, rest/unit/REC2c1/default-fallback-domains-0
        let plan = with(|_| {}).unwrap();
        assert_eq!(plan.primary, "main.realtime.ably.net");
        assert_eq!(plan.fallbacks.len(), 5);
        assert!(
            plan.fallbacks
                .iter()
                .all(|h| h.starts_with("main.") && h.ends_with(".fallback.ably-realtime.com"))
        );
        assert_eq!(
            plan.base_url(&plan.primary),
            "https://main.realtime.ably.net"
        );
    }

    #[test]
    fn endpoint_forms() {
        // rest/unit/REC1b2/explicit-hostname-with-period-0, rest/unit/REC2c2/explicit-hostname-no-fallbacks-0
        let p = with(|o| o.endpoint = Some("custom.ably.example.com".into())).unwrap();
        assert_eq!(
            (p.primary.as_str(), p.fallbacks.len()),
            ("custom.ably.example.com", 0)
        );
        // rest/unit/REC1b2/endpoint-localhost-1
        assert_eq!(
            with(|o| o.endpoint = Some("localhost".into()))
                .unwrap()
                .primary,
            "localhost"
        );
        // rest/unit/REC1b2/endpoint-ipv6-address-2
        let p = with(|o| o.endpoint = Some("::1".into())).unwrap();
        assert_eq!(p.primary, "::1");
        assert_eq!(p.base_url(&p.primary), "https://[::1]");
        // rest/unit/REC1b3/nonprod-routing-policy-0, rest/unit/REC2c3/nonprod-fallback-domains-0
        let p = with(|o| o.endpoint = Some("nonprod:staging".into())).unwrap();
        assert_eq!(p.primary, "staging.realtime.ably-nonprod.net");
        assert!(
            p.fallbacks
                .contains(&"staging.c.fallback.ably-realtime-nonprod.com".to_owned())
        );
        // rest/unit/REC1b4/production-routing-policy-0, rest/unit/REC2c4/production-endpoint-fallback-domains-0
        let p = with(|o| o.endpoint = Some("test".into())).unwrap();
        assert_eq!(p.primary, "test.realtime.ably.net");
        assert!(
            p.fallbacks
                .contains(&"test.e.fallback.ably-realtime.com".to_owned())
        );
    }

    #[test]
    fn deprecated_host_options() {
        // rest/unit/REC1c2/environment-sets-primary-domain-0, rest/unit/REC2c5/production-environment-fallback-domains-0
        let p = with(|o| o.environment = Some("sandbox".into())).unwrap();
        assert_eq!(p.primary, "sandbox.realtime.ably.net");
        assert!(
            p.fallbacks
                .contains(&"sandbox.a.fallback.ably-realtime.com".to_owned())
        );
        // rest/unit/REC1d1/resthost-sets-primary-domain-0, rest/unit/REC2c6/custom-resthost-no-fallbacks-0
        let p = with(|o| o.rest_host = Some("rest.example.com".into())).unwrap();
        assert_eq!(
            (p.primary.as_str(), p.fallbacks.len()),
            ("rest.example.com", 0)
        );
        // rest/unit/REC1d2/realtimehost-sets-primary-domain-0, rest/unit/REC2c6/custom-realtimehost-no-fallbacks-1
        let p = with(|o| o.realtime_host = Some("rt.example.com".into())).unwrap();
        assert_eq!(
            (p.primary.as_str(), p.fallbacks.len()),
            ("rt.example.com", 0)
        );
        // rest/unit/REC1d/resthost-precedence-over-realtimehost-0
        let p = with(|o| {
            o.rest_host = Some("rest.example.com".into());
            o.realtime_host = Some("rt.example.com".into());
        })
        .unwrap();
        assert_eq!(p.primary, "rest.example.com");
        // rest/unit/REC2b/fallback-hosts-use-default-0
        let p = with(|o| {
            o.rest_host = Some("rest.example.com".into());
            o.fallback_hosts_use_default = true;
        })
        .unwrap();
        assert!(
            p.fallbacks
                .contains(&"main.b.fallback.ably-realtime.com".to_owned())
        );
        // rest/unit/REC2a2/custom-fallback-hosts-0
        let p = with(|o| o.fallback_hosts = Some(vec!["fb1.example.com".into()])).unwrap();
        assert_eq!(p.fallbacks, vec!["fb1.example.com".to_owned()]);
    }

    #[test]
    fn conflicting_combinations_are_40000() {
        // rest/unit/REC1b1/endpoint-conflicts-environment-0, -resthost-1, -realtimehost-2, -fallback-default-3
        // rest/unit/REC1c1/environment-conflicts-resthost-0, -realtimehost-1
        // rest/unit/REC2a1/fallback-hosts-conflicts-use-default-0
        let cases: [fn(&mut EndpointOptions); 7] = [
            |o| (o.endpoint, o.environment) = (Some("x".into()), Some("y".into())),
            |o| (o.endpoint, o.rest_host) = (Some("x".into()), Some("h.example".into())),
            |o| (o.endpoint, o.realtime_host) = (Some("x".into()), Some("h.example".into())),
            |o| (o.endpoint, o.fallback_hosts_use_default) = (Some("x".into()), true),
            |o| (o.environment, o.rest_host) = (Some("x".into()), Some("h.example".into())),
            |o| (o.environment, o.realtime_host) = (Some("x".into()), Some("h.example".into())),
            |o| (o.fallback_hosts, o.fallback_hosts_use_default) = (Some(vec![]), true),
        ];
        for case in cases {
            let err = with(case).unwrap_err();
            assert_eq!((err.code, err.status_code), (40000, 0));
            assert!(err.message.contains("invalid"), "{}", err.message);
        }
    }

    #[test]
    fn hosts_and_ports_pass_the_url_parser() {
        for bad in [
            "example.com:99999",
            "example.com:443",
            "ex@mple.com",
            "h?x.example",
            "h#x.example",
            "é.example",
        ] {
            let error = with(|o| o.endpoint = Some(bad.into())).unwrap_err();
            assert_eq!(error.code, codes::INVALID_PARAMETER_VALUE, "{bad}");
            assert!(error.message.contains("REST host"), "{bad}: {error}");
        }
        let error = with(|o| o.fallback_hosts = Some(vec!["fb:65536".into()])).unwrap_err();
        assert!(error.message.contains("fb:65536"), "{error}");
        let error = with(|o| o.tls_port = 0).unwrap_err();
        assert!(error.message.contains("port 0"), "{error}");
        assert!(
            with(|o| o.endpoint = Some("[::1]".into())).is_ok(),
            "bracketed"
        );
        assert!(with(|o| o.endpoint = Some("fe80::1".into())).is_ok());
    }

    #[test]
    fn scheme_and_port_follow_tls() {
        // rest/unit/RSC18/tls-controls-protocol-scheme-0
        let p = with(|o| {
            o.tls = false;
            o.endpoint = Some("localhost".into());
            o.port = 8080;
        })
        .unwrap();
        assert_eq!(p.base_url(&p.primary), "http://localhost:8080");
        let p = with(|o| o.tls_port = 8443).unwrap();
        assert_eq!(p.base_url("h.example"), "https://h.example:8443");
    }
}
