//! The document types of section 5 of the delivery format, and which of them
//! a record series can hold.
//!
//! `schriftverkehr` and `deckblatt` exist in both series and are one type
//! each: the series only narrows the candidates, it does not split a label.
//! Spellings are the spec's and are written to model files and reports; they
//! must never be renamed.

use std::fmt;
use std::str::FromStr;

use scan2dms_model::Series;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One document type of the delivery format (section 5), plus the cover sheet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DocType {
    // Personnel.
    Bewerbung,
    Arbeitsvertrag,
    Ernennungsurkunde,
    Zeugnis,
    Beurteilung,
    Fortbildung,
    Krankmeldung,
    Urlaubsantrag,
    Gehaltsmitteilung,
    // Tax.
    Steuerbescheid,
    Messbescheid,
    Steuererklaerung,
    Widerspruch,
    Stundungsantrag,
    Mahnung,
    // Both series.
    Schriftverkehr,
    Deckblatt,
}

/// A string that names no document type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown document type {0:?}")]
pub struct UnknownDocType(pub String);

const PERSONNEL: &[DocType] = &[
    DocType::Bewerbung,
    DocType::Arbeitsvertrag,
    DocType::Ernennungsurkunde,
    DocType::Zeugnis,
    DocType::Beurteilung,
    DocType::Fortbildung,
    DocType::Krankmeldung,
    DocType::Urlaubsantrag,
    DocType::Gehaltsmitteilung,
    DocType::Schriftverkehr,
    DocType::Deckblatt,
];

const TAX: &[DocType] = &[
    DocType::Steuerbescheid,
    DocType::Messbescheid,
    DocType::Steuererklaerung,
    DocType::Widerspruch,
    DocType::Stundungsantrag,
    DocType::Mahnung,
    DocType::Schriftverkehr,
    DocType::Deckblatt,
];

impl DocType {
    /// Every type, in declaration order.
    pub const ALL: [DocType; 17] = [
        DocType::Bewerbung,
        DocType::Arbeitsvertrag,
        DocType::Ernennungsurkunde,
        DocType::Zeugnis,
        DocType::Beurteilung,
        DocType::Fortbildung,
        DocType::Krankmeldung,
        DocType::Urlaubsantrag,
        DocType::Gehaltsmitteilung,
        DocType::Steuerbescheid,
        DocType::Messbescheid,
        DocType::Steuererklaerung,
        DocType::Widerspruch,
        DocType::Stundungsantrag,
        DocType::Mahnung,
        DocType::Schriftverkehr,
        DocType::Deckblatt,
    ];

    /// The types a record of `series` can hold, cover sheet included.
    pub fn for_series(series: Series) -> &'static [DocType] {
        match series {
            Series::Personnel => PERSONNEL,
            Series::Tax => TAX,
        }
    }

    /// Whether a record of `series` can hold this type.
    pub fn in_series(self, series: Series) -> bool {
        Self::for_series(series).contains(&self)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DocType::Bewerbung => "bewerbung",
            DocType::Arbeitsvertrag => "arbeitsvertrag",
            DocType::Ernennungsurkunde => "ernennungsurkunde",
            DocType::Zeugnis => "zeugnis",
            DocType::Beurteilung => "beurteilung",
            DocType::Fortbildung => "fortbildung",
            DocType::Krankmeldung => "krankmeldung",
            DocType::Urlaubsantrag => "urlaubsantrag",
            DocType::Gehaltsmitteilung => "gehaltsmitteilung",
            DocType::Steuerbescheid => "steuerbescheid",
            DocType::Messbescheid => "messbescheid",
            DocType::Steuererklaerung => "steuererklaerung",
            DocType::Widerspruch => "widerspruch",
            DocType::Stundungsantrag => "stundungsantrag",
            DocType::Mahnung => "mahnung",
            DocType::Schriftverkehr => "schriftverkehr",
            DocType::Deckblatt => "deckblatt",
        }
    }
}

impl FromStr for DocType {
    type Err = UnknownDocType;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        DocType::ALL
            .into_iter()
            .find(|doc_type| doc_type.as_str() == text)
            .ok_or_else(|| UnknownDocType(text.to_owned()))
    }
}

impl fmt::Display for DocType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for DocType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for DocType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_series_partition_the_types() {
        for doc_type in DocType::ALL {
            assert_eq!(doc_type.as_str().parse::<DocType>(), Ok(doc_type));
            assert!(doc_type.in_series(Series::Personnel) || doc_type.in_series(Series::Tax), "{doc_type}");
        }
        let shared: Vec<_> =
            DocType::ALL.into_iter().filter(|t| t.in_series(Series::Personnel) && t.in_series(Series::Tax)).collect();
        assert_eq!(shared, [DocType::Schriftverkehr, DocType::Deckblatt]);
        assert_eq!(PERSONNEL.len() + TAX.len(), DocType::ALL.len() + shared.len());
        assert!("Zeugnis".parse::<DocType>().is_err());
    }
}
