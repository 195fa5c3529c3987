//! OTLP request headers: `TracingConfig::headers` and `OTEL_EXPORTER_OTLP_[SIGNAL_]HEADERS`.
//!
//! The variables are a comma-separated list of `key=value` members with percent-encoded
//! values. `opentelemetry-otlp` reads them itself and, on a member it cannot parse, sends the
//! raw text or skips it without a word. So the variables are parsed here: a malformed member
//! is left out with one warning per variable (naming it, quoting keys only: values are often
//! secrets), and the headers every request carries are set to what was parsed here, code
//! settings first ([`HeaderFixes`], applied by a gRPC interceptor or an HTTP client wrapper).

use std::sync::Arc;

use crate::diag;

/// What one headers variable said.
#[derive(Clone, Debug, Default)]
pub(crate) struct EnvHeaders {
    /// Well-formed members, values decoded.
    pub(crate) valid: Vec<(String, String)>,
    /// Every key the variable mentions, well-formed or not (lowercase), so that the
    /// exporter's own reading of them can be corrected.
    pub(crate) mentioned: Vec<String>,
}

/// Why a member was left out.
fn member_error(member: &str) -> Result<(String, String), (Option<&str>, &'static str)> {
    let Some((key, value)) = member.split_once('=') else {
        return Err((None, "not key=value"));
    };
    let (key, value) = (key.trim(), value.trim());
    if http::HeaderName::try_from(key).is_err() {
        return Err((None, "the key is not a valid header name"));
    }
    let Some(decoded) = percent_decode(value) else {
        return Err((Some(key), "the value has a bad %-escape or is not UTF-8"));
    };
    if decoded.is_empty() {
        return Err((Some(key), "the value is empty"));
    }
    if http::HeaderValue::try_from(decoded.as_str()).is_err() {
        return Err((Some(key), "the value has characters a header cannot carry"));
    }
    Ok((key.to_ascii_lowercase(), decoded))
}

/// Percent-decodes `value`; `None` on a malformed escape or a result that is not UTF-8.
fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Parses one variable's value; warns once, naming `name`, if any member is malformed.
pub(crate) fn parse(name: &str, value: &str) -> EnvHeaders {
    let mut parsed = EnvHeaders::default();
    let mut bad = 0usize;
    let mut first_bad: Option<String> = None;
    for (position, member) in value.split(',').enumerate() {
        if member.trim().is_empty() {
            continue;
        }
        if let Some((key, _)) = member.split_once('=') {
            let key = key.trim().to_ascii_lowercase();
            if !key.is_empty() && !parsed.mentioned.contains(&key) {
                parsed.mentioned.push(key);
            }
        }
        match member_error(member) {
            Ok(pair) => parsed.valid.push(pair),
            Err((key, why)) => {
                bad += 1;
                first_bad.get_or_insert_with(|| match key {
                    Some(key) => format!("header {}: {why}", diag::Quoted(key)),
                    None => format!("entry {}: {why}", position + 1),
                });
            }
        }
    }
    if let Some(first) = first_bad {
        diag::warn(format_args!(
            "{name}: {bad} malformed header entr{} left out (first: {first}); expected \
             key=value pairs separated by commas, values percent-encoded",
            if bad == 1 { "y" } else { "ies" }
        ));
    }
    parsed
}

/// The variable `opentelemetry-otlp` reads for `signal_var` (the signal's own, else the
/// generic one), parsed; `generic` caches the generic one so it warns once.
pub(crate) fn from_env(signal_var: &str, generic: &mut Option<EnvHeaders>) -> EnvHeaders {
    const GENERIC: &str = "OTEL_EXPORTER_OTLP_HEADERS";
    // The exporter reads the variables untrimmed and treats a set, empty signal variable
    // as set: so do we, to correct exactly what it will send.
    if let Ok(value) = std::env::var(signal_var) {
        return parse(signal_var, &value);
    }
    generic
        .get_or_insert_with(|| match std::env::var(GENERIC) {
            Ok(value) => parse(GENERIC, &value),
            Err(_) => EnvHeaders::default(),
        })
        .clone()
}

/// The headers to send: the environment's, then code settings, which win per key.
pub(crate) fn merged(code: &[(String, String)], env: &EnvHeaders) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = env
        .valid
        .iter()
        .filter(|(k, _)| !code.iter().any(|(c, _)| c.eq_ignore_ascii_case(k)))
        .cloned()
        .collect();
    headers.extend(code.iter().cloned());
    headers
}

/// Corrections applied to every export request: each header the environment mentions is
/// set to the value decided here, or removed when there is none.
#[derive(Clone, Debug, Default)]
pub(crate) struct HeaderFixes(Arc<Vec<(http::HeaderName, Option<http::HeaderValue>)>>);

impl HeaderFixes {
    pub(crate) fn new(headers: &[(String, String)], env: &EnvHeaders) -> Self {
        let fixes = env
            .mentioned
            .iter()
            .filter_map(|key| {
                let name = http::HeaderName::try_from(key.as_str()).ok()?;
                let value = headers
                    .iter()
                    .rev()
                    .find(|(k, _)| k.eq_ignore_ascii_case(key))
                    .and_then(|(_, v)| http::HeaderValue::try_from(v.as_str()).ok());
                Some((name, value))
            })
            .collect();
        HeaderFixes(Arc::new(fixes))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn apply(&self, headers: &mut http::HeaderMap) {
        for (name, value) in self.0.iter() {
            headers.remove(name);
            if let Some(value) = value {
                headers.insert(name.clone(), value.clone());
            }
        }
    }
}

/// The gRPC side: an interceptor that applies the fixes to each request's metadata.
#[cfg(feature = "grpc")]
pub(crate) fn interceptor(
    fixes: HeaderFixes,
) -> impl FnMut(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> + Clone + Send + Sync
{
    move |mut request: tonic::Request<()>| {
        let metadata = std::mem::take(request.metadata_mut());
        let mut headers = metadata.into_headers();
        fixes.apply(&mut headers);
        *request.metadata_mut() = tonic::metadata::MetadataMap::from_headers(headers);
        Ok(request)
    }
}

/// The HTTP side: the exporter's reqwest client, applying the fixes to each request.
#[cfg(feature = "http")]
#[derive(Debug)]
pub(crate) struct FixedHeadersClient {
    pub(crate) client: reqwest::Client,
    pub(crate) fixes: HeaderFixes,
}

#[cfg(feature = "http")]
impl opentelemetry_http::HttpClient for FixedHeadersClient {
    fn send_bytes<'a, 'b>(
        &'a self,
        mut request: http::Request<bytes::Bytes>,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<
                    Output = Result<http::Response<bytes::Bytes>, opentelemetry_http::HttpError>,
                > + Send
                + 'b,
        >,
    >
    where
        'a: 'b,
        Self: 'b,
    {
        self.fixes.apply(request.headers_mut());
        opentelemetry_http::HttpClient::send_bytes(&self.client, request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_decodes_members() {
        let parsed = parse("TEST", "api-key=a%20b, X-Team = red ,,");
        assert_eq!(
            parsed.valid,
            vec![
                ("api-key".to_owned(), "a b".to_owned()),
                ("x-team".to_owned(), "red".to_owned())
            ]
        );
    }

    #[test]
    fn leaves_out_malformed_members() {
        for bad in [
            "garbage",
            "k=%ZZ",
            "k=%4",
            "=v",
            "k=",
            "bad key=v",
            "k=%FF",
            "k=a%0Ab",
        ] {
            let parsed = parse("TEST", bad);
            assert!(parsed.valid.is_empty(), "{bad} gave {:?}", parsed.valid);
        }
        let parsed = parse("TEST", "k=%ZZ,ok=1");
        assert_eq!(parsed.valid, vec![("ok".to_owned(), "1".to_owned())]);
        assert_eq!(parsed.mentioned, vec!["k".to_owned(), "ok".to_owned()]);
    }

    #[test]
    fn fixes_remove_bad_values_and_let_code_win() {
        let env = parse("TEST", "k=%ZZ,team=env,only=env");
        let code = vec![("Team".to_owned(), "code".to_owned())];
        let headers = merged(&code, &env);
        let fixes = HeaderFixes::new(&headers, &env);
        let mut sent = http::HeaderMap::new();
        sent.insert("k", http::HeaderValue::from_static("%ZZ"));
        sent.insert("team", http::HeaderValue::from_static("env"));
        fixes.apply(&mut sent);
        assert!(sent.get("k").is_none());
        assert_eq!(sent.get("team").map(|v| v.as_bytes()), Some(&b"code"[..]));
        assert_eq!(sent.get("only").map(|v| v.as_bytes()), Some(&b"env"[..]));
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(2000))]

        #[test]
        fn any_variable_value_parses_to_sendable_headers(value in "\\PC{0,120}") {
            let parsed = parse("TEST", &value);
            for (k, v) in &parsed.valid {
                proptest::prop_assert!(http::HeaderName::try_from(k.as_str()).is_ok());
                proptest::prop_assert!(http::HeaderValue::try_from(v.as_str()).is_ok());
                proptest::prop_assert!(!v.is_empty());
            }
            let headers = merged(&[], &parsed);
            let fixes = HeaderFixes::new(&headers, &parsed);
            let mut sent = http::HeaderMap::new();
            fixes.apply(&mut sent);
            proptest::prop_assert_eq!(sent.len(), parsed.valid.iter().map(|(k, _)| k).collect::<std::collections::HashSet<_>>().len());
        }

        #[test]
        fn encoded_values_round_trip(key in "[a-z][a-z0-9-]{0,15}", value in "[ -~]{1,40}") {
            let encoded: String = value
                .bytes()
                .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
                .collect();
            let parsed = parse("TEST", &format!("{key}={encoded}"));
            proptest::prop_assert_eq!(parsed.valid, vec![(key, value.clone())]);
        }
    }
}
