//! Splitting a record's scanned pages into documents.
//!
//! The contract gives two ways (delivery format, section 2): index.csv's
//! `document_no`, which rules where it is given, or separator sheets where
//! it is left empty. Separator pages never belong to a document. Blank
//! pages stay in their document unless the configuration drops them; either
//! way the decision is recorded, never silent.
//!
//! Pure logic: the page facts (separator, blank) come from the imaging
//! stage; this module only decides the boundaries.

/// What the pipeline knows about one page of a record, in scan order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageFacts {
    pub page_no: u32,
    /// From index.csv; `None` when the contractor left it empty.
    pub document_no: Option<u32>,
    pub separator: bool,
    pub blank: bool,
}

/// What to do with blank pages that are not separators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlankPages {
    Keep,
    Drop,
}

/// One document: its number within the record and the pages it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentPlan {
    pub document_no: u32,
    pub page_nos: Vec<u32>,
}

/// Something about the split worth a person's look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SplitNote {
    /// A separator sheet inside a document that index.csv numbers: the
    /// number rules, the sheet is dropped.
    SeparatorInsideDocument { page_no: u32, document_no: u32 },
    /// A blank page left out of the e-file by configuration.
    BlankDropped { page_no: u32 },
    /// A document that would hold no page (separators only, or all blank).
    EmptyDocument { document_no: u32 },
}

/// Splits a record's pages (sorted by `page_no`) into documents.
pub fn split_record(pages: &[PageFacts], blank_pages: BlankPages) -> (Vec<DocumentPlan>, Vec<SplitNote>) {
    let mut notes = Vec::new();
    let numbered = pages.iter().any(|page| page.document_no.is_some());
    let mut documents: Vec<DocumentPlan> = Vec::new();
    if numbered {
        for page in pages {
            // Pages without a number in a numbered record join the document before them.
            let document_no =
                page.document_no.or_else(|| documents.last().map(|document| document.document_no)).unwrap_or(1);
            if documents.last().is_none_or(|document| document.document_no != document_no) {
                documents.push(DocumentPlan { document_no, page_nos: Vec::new() });
            }
            if page.separator {
                let starts_document = documents.last().is_some_and(|document| document.page_nos.is_empty());
                if !starts_document {
                    notes.push(SplitNote::SeparatorInsideDocument { page_no: page.page_no, document_no });
                }
                continue;
            }
            keep_or_drop(page, blank_pages, documents.last_mut(), &mut notes);
        }
    } else {
        let mut current = DocumentPlan { document_no: 1, page_nos: Vec::new() };
        for page in pages {
            if page.separator {
                if !current.page_nos.is_empty() {
                    let next_no = current.document_no + 1;
                    documents.push(std::mem::replace(
                        &mut current,
                        DocumentPlan { document_no: next_no, page_nos: Vec::new() },
                    ));
                }
                continue;
            }
            keep_or_drop(page, blank_pages, Some(&mut current), &mut notes);
        }
        if !current.page_nos.is_empty() || documents.is_empty() {
            documents.push(current);
        }
    }
    for document in &documents {
        if document.page_nos.is_empty() {
            notes.push(SplitNote::EmptyDocument { document_no: document.document_no });
        }
    }
    documents.retain(|document| !document.page_nos.is_empty());
    (documents, notes)
}

fn keep_or_drop(
    page: &PageFacts,
    blank_pages: BlankPages,
    document: Option<&mut DocumentPlan>,
    notes: &mut Vec<SplitNote>,
) {
    if page.blank && blank_pages == BlankPages::Drop {
        notes.push(SplitNote::BlankDropped { page_no: page.page_no });
        return;
    }
    if let Some(document) = document {
        document.page_nos.push(page.page_no);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(page_no: u32, document_no: Option<u32>, kind: &str) -> PageFacts {
        PageFacts { page_no, document_no, separator: kind == "sep", blank: kind == "blank" }
    }

    fn render(pages: &[PageFacts], blank_pages: BlankPages) -> String {
        let (documents, notes) = split_record(pages, blank_pages);
        let mut out: Vec<String> =
            documents.iter().map(|document| format!("{}:{:?}", document.document_no, document.page_nos)).collect();
        out.extend(notes.iter().map(|note| format!("{note:?}")));
        out.join(" ")
    }

    #[test]
    fn separators_split_when_document_numbers_are_empty() {
        let pages = [
            page(1, None, "sep"),
            page(2, None, ""),
            page(3, None, "blank"),
            page(4, None, "sep"),
            page(5, None, ""),
            page(6, None, "sep"),
        ];
        assert_eq!(render(&pages, BlankPages::Keep), "1:[2, 3] 2:[5]");
        assert_eq!(render(&pages, BlankPages::Drop), "1:[2] 2:[5] BlankDropped { page_no: 3 }");
    }

    #[test]
    fn a_record_without_separators_is_one_document() {
        let pages = [page(1, None, ""), page(2, None, "")];
        assert_eq!(render(&pages, BlankPages::Keep), "1:[1, 2]");
    }

    #[test]
    fn document_numbers_rule_and_a_separator_inside_a_document_is_noted() {
        let pages = [
            page(1, Some(1), ""),
            page(2, Some(1), "sep"),
            page(3, Some(1), ""),
            page(4, Some(2), "sep"),
            page(5, Some(2), ""),
        ];
        assert_eq!(
            render(&pages, BlankPages::Keep),
            "1:[1, 3] 2:[5] SeparatorInsideDocument { page_no: 2, document_no: 1 }"
        );
    }

    #[test]
    fn a_document_of_separators_only_is_noted_not_produced() {
        let pages = [page(1, Some(1), ""), page(2, Some(2), "sep"), page(3, Some(3), "")];
        assert_eq!(render(&pages, BlankPages::Keep), "1:[1] 3:[3] EmptyDocument { document_no: 2 }");
    }
}
