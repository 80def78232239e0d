//! Contractor deliveries: everything needed to decide whether a batch is
//! complete and correct before a single page is OCR'd.
//!
//! - [`archive`] unpacks `.zip` and `.tar` uploads into the work area, refusing
//!   links, escaping paths and bombs before writing a byte.
//! - [`validate_delivery`] checks a bag against the delivery format: BagIt
//!   fixity (through `scan2dms-bagit`), our bag-info profile, records.csv and
//!   index.csv, the order lists and earlier deliveries (through the
//!   [`OrderBook`] port), and that every page image decodes within the limits.
//!   It collects every reason, never just the first.
//! - [`read_order_list`] parses the city's order lists.
//!
//! The crate touches files only: order and delivery history come in through
//! [`OrderBook`], so the same checks run statelessly (`scan2dms validate`) and
//! inside the pipeline against the state store.

pub mod archive;
mod orders;
mod profile;
mod sheets;
mod text;
mod validate;

pub use orders::{ORDER_HEADER, OrderList, OrderListError, OrderRecord, parse_order_list, read_order_list};
pub use profile::BagProfile;
pub use sheets::{INDEX_HEADER, PageRow, RECORDS_HEADER, RecordRow};
pub use text::IndexEncoding;
pub use validate::{
    DirectoryOrderBook, ImageCheck, LookupError, OrderBook, OrderView, PayloadEntry, PriorBatch, ValidateOptions,
    Validation, ValidationError, validate_delivery,
};
