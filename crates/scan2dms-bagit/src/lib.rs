//! BagIt (RFC 8493).
