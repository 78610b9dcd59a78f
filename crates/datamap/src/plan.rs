//! What an erasure (消去) or a suspension of use (利用停止) does to each dataset, from the map
//! alone (Art. 35). No IO: the service applies it to the rows the connectors found, and shows
//! it to the officer as a dry run before anything changes.

use crate::{DataMap, Dataset, Erase, Field, MarkValue, Suspend};

/// What an erasure does to one dataset's rows found for the subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetPlan {
    /// The dataset's id.
    pub dataset: String,
    /// The system it is in.
    pub system: String,
    /// What happens to the rows.
    pub action: RowAction,
    /// Fields kept, each with the law or rule it is kept under.
    pub retained: Vec<(String, String)>,
    /// A suspension whose rows must be marked, where the map names no mark: the system's
    /// owner marks them by hand.
    pub unmarked: bool,
}

/// What is done to the subject's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// Erasure (消去).
    Erase,
    /// Suspension of use (利用停止).
    Suspend,
}

/// What happens to a dataset's rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowAction {
    /// The rows are deleted (a field of them is erased by deleting its row).
    Delete,
    /// The rows stay; these fields are cleared (set to NULL), these masked and these set
    /// (a suspension's mark).
    Update {
        /// Fields set to NULL.
        clear: Vec<String>,
        /// Fields overwritten with [`MASK`].
        mask: Vec<String>,
        /// Columns set to a value.
        set: Vec<(String, MarkValue)>,
    },
    /// Nothing changes: every field is kept (see `retained`).
    Keep,
}

/// What a masked field holds afterwards: no longer the person's value.
pub const MASK: &str = "***";

/// The erasure plan of one dataset. The map's checks guarantee a row deleted for one field
/// holds no field that must be retained.
pub fn erasure(dataset: &Dataset) -> DatasetPlan {
    let basis_of = |f: &crate::Field| {
        f.retain_basis
            .clone()
            .unwrap_or_else(|| dataset.retention.basis.clone())
    };
    let retained: Vec<(String, String)> = dataset
        .fields
        .iter()
        .filter(|f| f.erase == Erase::Retain)
        .map(|f| (f.name.get_ref().clone(), basis_of(f)))
        .collect();
    let all: Vec<&Field> = dataset.fields.iter().collect();
    DatasetPlan {
        dataset: dataset.id.get_ref().clone(),
        system: dataset.system.get_ref().clone(),
        action: erase_action(&all, !retained.is_empty(), Vec::new()),
        retained,
        unmarked: false,
    }
}

/// Rows deleted when a field is erased by deleting its row and nothing is kept; else the
/// fields cleared, masked and the columns set.
fn erase_action(fields: &[&Field], keeps: bool, set: Vec<(String, MarkValue)>) -> RowAction {
    let deletes = fields.iter().any(|f| f.erase == Erase::DeleteRow);
    let by = |e: Erase| -> Vec<String> {
        fields
            .iter()
            .filter(|f| f.erase == e)
            .map(|f| f.name.get_ref().clone())
            .collect()
    };
    if deletes && !keeps {
        return RowAction::Delete;
    }
    let (clear, mask) = (by(Erase::Clear), by(Erase::Mask));
    if clear.is_empty() && mask.is_empty() && set.is_empty() {
        RowAction::Keep
    } else {
        RowAction::Update { clear, mask, set }
    }
}

/// The suspension plan of one dataset: fields whose `suspend` is `erase` are erased as their
/// `erase` says; rows holding a field whose `suspend` is `mark` get the dataset's
/// `suspend_mark` (or are marked by hand where it names none); fields not applicable, and
/// erased fields the law keeps, stay with their basis.
pub fn suspension(dataset: &Dataset) -> DatasetPlan {
    let basis_of = |f: &Field| {
        f.retain_basis
            .clone()
            .unwrap_or_else(|| dataset.retention.basis.clone())
    };
    let erased: Vec<&Field> = dataset
        .fields
        .iter()
        .filter(|f| f.suspend == Suspend::Erase)
        .collect();
    let retained: Vec<(String, String)> = dataset
        .fields
        .iter()
        .filter(|f| {
            f.suspend == Suspend::NotApplicable
                || (f.suspend == Suspend::Erase && f.erase == Erase::Retain)
        })
        .map(|f| (f.name.get_ref().clone(), basis_of(f)))
        .collect();
    let marks = dataset.fields.iter().any(|f| f.suspend == Suspend::Mark);
    let set: Vec<(String, MarkValue)> = dataset
        .suspend_mark
        .iter()
        .filter(|_| marks)
        .map(|m| (m.field.get_ref().clone(), m.value.clone()))
        .collect();
    // Deleting a row would lose fields kept or merely marked: rows go only when every field
    // is to be erased and one of them by deleting its row. Where the row stays, a field
    // erased by deleting its row is cleared instead.
    let keeps =
        erased.len() != dataset.fields.len() || erased.iter().any(|f| f.erase == Erase::Retain);
    let action = if keeps {
        let names = |pick: &dyn Fn(Erase) -> bool| -> Vec<String> {
            erased
                .iter()
                .filter(|f| pick(f.erase))
                .map(|f| f.name.get_ref().clone())
                .collect()
        };
        let clear = names(&|e| matches!(e, Erase::Clear | Erase::DeleteRow));
        let mask = names(&|e| e == Erase::Mask);
        if clear.is_empty() && mask.is_empty() && set.is_empty() {
            RowAction::Keep
        } else {
            RowAction::Update { clear, mask, set }
        }
    } else {
        erase_action(&erased, false, set)
    };
    DatasetPlan {
        dataset: dataset.id.get_ref().clone(),
        system: dataset.system.get_ref().clone(),
        unmarked: marks && dataset.suspend_mark.is_none() && action != RowAction::Delete,
        action,
        retained,
    }
}

/// The plan of every dataset of the map for a measure, in the order rows must change.
pub fn plan_all(map: &DataMap, measure: Measure) -> Vec<DatasetPlan> {
    match measure {
        Measure::Erase => erasure_all(map),
        Measure::Suspend => ordered(map).into_iter().map(suspension).collect(),
    }
}

/// The erasure plan of every dataset of the map, in the order rows must be changed.
pub fn erasure_all(map: &DataMap) -> Vec<DatasetPlan> {
    ordered(map).into_iter().map(erasure).collect()
}

/// The datasets in the order rows must be changed: a dataset whose rows are found through
/// another's comes first (an order before its member), so a foreign key never blocks a
/// deletion.
fn ordered(map: &DataMap) -> Vec<&Dataset> {
    let mut order: Vec<&Dataset> = Vec::new();
    let mut left: Vec<&Dataset> = map.datasets.iter().collect();
    // Repeatedly take the datasets no remaining dataset refers to (the map has no cycles).
    while !left.is_empty() {
        let refers_to = |d: &Dataset, other: &Dataset| {
            d.find_by.iter().flat_map(|f| &f.conditions).any(|c| {
                c.from.as_ref().is_some_and(|from| {
                    from.get_ref().split('.').next() == Some(other.id.get_ref())
                })
            })
        };
        let (ready, rest): (Vec<&Dataset>, Vec<&Dataset>) = left.iter().partition(|d| {
            !left
                .iter()
                .any(|o| o.id.get_ref() != d.id.get_ref() && refers_to(o, d))
        });
        if ready.is_empty() {
            // A cycle the checks should have refused: keep the map's order.
            order.extend(rest);
            break;
        }
        order.extend(ready);
        left = rest;
    }
    order
}
