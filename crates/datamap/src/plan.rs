//! What an erasure does to each dataset, from the map alone (Art. 35: 消去). No IO: the
//! service applies it to the rows the connectors found, and shows it to the officer as a dry
//! run before anything changes.

use crate::{DataMap, Dataset, Erase};

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
}

/// What happens to a dataset's rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowAction {
    /// The rows are deleted (a field of them is erased by deleting its row).
    Delete,
    /// The rows stay; these fields are cleared (set to NULL) and these masked.
    Update {
        /// Fields set to NULL.
        clear: Vec<String>,
        /// Fields overwritten with [`MASK`].
        mask: Vec<String>,
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
    let deletes = dataset.fields.iter().any(|f| f.erase == Erase::DeleteRow);
    let by = |e: Erase| -> Vec<String> {
        dataset
            .fields
            .iter()
            .filter(|f| f.erase == e)
            .map(|f| f.name.get_ref().clone())
            .collect()
    };
    let action = if deletes && retained.is_empty() {
        RowAction::Delete
    } else {
        let (clear, mask) = (by(Erase::Clear), by(Erase::Mask));
        if clear.is_empty() && mask.is_empty() {
            RowAction::Keep
        } else {
            RowAction::Update { clear, mask }
        }
    };
    DatasetPlan {
        dataset: dataset.id.get_ref().clone(),
        system: dataset.system.get_ref().clone(),
        action,
        retained,
    }
}

/// The erasure plan of every dataset of the map, in the order rows must be changed: a
/// dataset whose rows are found through another's comes first (an order before its member),
/// so a foreign key never blocks a deletion.
pub fn erasure_all(map: &DataMap) -> Vec<DatasetPlan> {
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
    order.into_iter().map(erasure).collect()
}
