//! Reason and warning codes, exactly as the delivery format names them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! code_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal: $doc:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $(#[doc = $doc] $variant,)*
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }

            /// One line for people: what the code means.
            pub fn meaning(self) -> &'static str {
                match self {
                    $($name::$variant => $doc,)*
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                match text {
                    $($text => Ok($name::$variant),)*
                    _ => Err(format!("unknown {} {text:?}", stringify!($name))),
                }
            }
        }
    };
}

code_enum! {
    /// Why a delivery is rejected (delivery format, section 3).
    ReasonCode {
        BadBagitTxt => "bad_bagit_txt": "bagit.txt missing or garbled",
        ChecksumMismatch => "checksum_mismatch": "a manifest digest differs from its file",
        MissingFile => "missing_file": "a file listed in a manifest or index.csv is absent",
        UnlistedFile => "unlisted_file": "a payload file not listed in the payload manifest",
        OxumMismatch => "oxum_mismatch": "Payload-Oxum does not match data/",
        MissingBagInfoField => "missing_bag_info_field": "a required bag-info field is missing",
        InvalidBagInfoField => "invalid_bag_info_field": "a bag-info field is malformed",
        ExternalIdMismatch => "external_id_mismatch": "External-Identifier is not the bag's directory name",
        UnknownOrder => "unknown_order": "Order-Identifier names no imported order",
        SeriesMismatch => "series_mismatch": "Record-Series differs from the order's series",
        BadCsvHeader => "bad_csv_header": "records.csv or index.csv has the wrong header",
        BadEncoding => "bad_encoding": "a CSV is not valid in its declared encoding",
        BadRecordId => "bad_record_id": "a record id does not match the pattern",
        RecordMismatch => "record_mismatch": "index.csv and records.csv list different records",
        PageGap => "page_gap": "page numbers of a record are not contiguous from 1",
        PageCountMismatch => "page_count_mismatch": "records.csv pages differs from the record's index rows",
        PathEscape => "path_escape": "a path leaves the bag, or is a link",
        FilePageOutOfRange => "file_page_out_of_range": "file_page exceeds the pages of its file",
        NotInOrder => "not_in_order": "a record is not in the batch's order",
        DuplicateRecord => "duplicate_record": "a record was already delivered by another accepted batch",
        UndecodableImage => "undecodable_image": "an image cannot be decoded",
        ImageTooLarge => "image_too_large": "an image's declared pixel count exceeds the configured limit",
        ArchiveTooLarge => "archive_too_large": "an archive would expand beyond the configured limits",
    }
}

code_enum! {
    /// What is flagged on an accepted delivery (delivery format, section 4).
    WarningCode {
        LowDpi => "low_dpi": "a page's resolution is below the declared Scan-Resolution-DPI",
        BlankPage => "blank_page": "a blank page that is not a separator sheet",
        RotatedPage => "rotated_page": "a page stored rotated by 90, 180 or 270 degrees",
        KeyMismatch => "key_mismatch": "the record key printed on the documents differs from record_id",
        UnreferencedFile => "unreferenced_file": "a payload file that index.csv does not reference",
        LowOcrConfidence => "low_ocr_confidence": "a page's OCR confidence is below the threshold",
        LowClassificationConfidence => "low_classification_confidence": "a document's type is below the confidence threshold",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_text_and_json() {
        for &code in ReasonCode::ALL {
            assert_eq!(code.as_str().parse::<ReasonCode>(), Ok(code));
            assert_eq!(serde_json::to_string(&code).unwrap(), format!("\"{}\"", code.as_str()));
        }
        for &code in WarningCode::ALL {
            assert_eq!(code.as_str().parse::<WarningCode>(), Ok(code));
            assert_eq!(serde_json::to_string(&code).unwrap(), format!("\"{}\"", code.as_str()));
        }
    }
}
