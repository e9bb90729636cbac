//! The API key as a type that cannot leak through `Debug`, `Display` or serde.
//!
//! Must not import anything but std.

/// An API key. Its `Debug` is redacted; the only way to read it is [`ApiKey::expose`],
/// used once, when the Authorization header is built.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into().trim().to_string())
    }

    /// The raw key, for the Authorization header and for redaction only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}
