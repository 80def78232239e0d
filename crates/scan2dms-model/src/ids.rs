//! Identifiers that parse only when they match the delivery contract.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("batch id {0:?} does not match ^[A-Za-z0-9][A-Za-z0-9._-]{{0,63}}$")]
    BadBatchId(String),
    #[error("record id {0:?} matches neither PN-dddddd nor KZ-dddd-ddddddd")]
    BadRecordId(String),
    #[error("order id {0:?} is empty, too long or holds characters other than A-Z a-z 0-9 . _ -")]
    BadOrderId(String),
    #[error("series {0:?} is neither `personnel` nor `tax`")]
    BadSeries(String),
}

/// The id of one delivery: the bag's directory name and `External-Identifier`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BatchId(String);

impl BatchId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for BatchId {
    type Err = IdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bytes = text.as_bytes();
        let allowed_rest = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-');
        let valid = !bytes.is_empty()
            && bytes.len() <= 64
            && bytes[0].is_ascii_alphanumeric()
            && bytes[1..].iter().all(allowed_rest);
        if valid { Ok(BatchId(text.to_owned())) } else { Err(IdError::BadBatchId(text.to_owned())) }
    }
}

/// The key of one paper file (Akte): a personnel number or a tax account.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordId(String);

impl RecordId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The series the key's shape belongs to: `PN-` personnel, `KZ-` tax.
    pub fn series(&self) -> Series {
        if self.0.starts_with("PN-") { Series::Personnel } else { Series::Tax }
    }
}

impl FromStr for RecordId {
    type Err = IdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        let valid = if let Some(rest) = text.strip_prefix("PN-") {
            digits(rest, 6)
        } else if let Some(rest) = text.strip_prefix("KZ-") {
            matches!(rest.split_once('-'), Some((office, account)) if digits(office, 4) && digits(account, 7))
        } else {
            false
        };
        if valid { Ok(RecordId(text.to_owned())) } else { Err(IdError::BadRecordId(text.to_owned())) }
    }
}

/// The id of one order list, e.g. `ORD-0001-PERS`; the spec fixes no pattern,
/// so this accepts what is safe as a file and database key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OrderId(String);

impl OrderId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for OrderId {
    type Err = IdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let valid = !text.is_empty()
            && text.len() <= 128
            && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if valid { Ok(OrderId(text.to_owned())) } else { Err(IdError::BadOrderId(text.to_owned())) }
    }
}

/// The two kinds of records the city is digitising.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Series {
    Personnel,
    Tax,
}

impl Series {
    pub fn as_str(self) -> &'static str {
        match self {
            Series::Personnel => "personnel",
            Series::Tax => "tax",
        }
    }
}

impl FromStr for Series {
    type Err = IdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "personnel" => Ok(Series::Personnel),
            "tax" => Ok(Series::Tax),
            _ => Err(IdError::BadSeries(text.to_owned())),
        }
    }
}

macro_rules! string_id_impls {
    ($($ty:ty),*) => {$(
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}

string_id_impls!(BatchId, RecordId, OrderId);

impl fmt::Display for Series {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Series {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Series {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_ids_follow_the_contract() {
        for good in ["PN-004711", "KZ-2300-0012345"] {
            assert!(good.parse::<RecordId>().is_ok(), "{good}");
        }
        for bad in ["PN-04711", "PN-0047110", "pn-004711", "KZ-230-0012345", "KZ-2300-012345", "KZ-2300", ""] {
            assert!(bad.parse::<RecordId>().is_err(), "{bad}");
        }
        assert_eq!("KZ-2300-0012345".parse::<RecordId>().unwrap().series(), Series::Tax);
    }

    #[test]
    fn batch_ids_follow_the_contract() {
        let longest = format!("a{}", "b".repeat(63));
        for good in ["SSN-0001-001", "a", "A.b_c-d", longest.as_str()] {
            assert!(good.parse::<BatchId>().is_ok(), "{good}");
        }
        let too_long = format!("a{}", "b".repeat(64));
        for bad in ["", "-a", ".hidden", "a/b", "a b", "ä", too_long.as_str()] {
            assert!(bad.parse::<BatchId>().is_err(), "{bad}");
        }
    }
}
