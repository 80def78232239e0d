//! Page images.
