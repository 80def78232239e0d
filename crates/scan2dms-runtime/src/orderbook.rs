//! The validation's [`OrderBook`] answered from the state store.

use std::collections::HashMap;

use scan2dms_core::BatchState;
use scan2dms_delivery::{LookupError, OrderBook, OrderView, PriorBatch};
use scan2dms_model::{BatchId, OrderId, RecordId};
use scan2dms_store::StateStore;

#[derive(Clone, Copy)]
pub struct StoreOrderBook<'a>(pub &'a dyn StateStore);

impl std::fmt::Debug for StoreOrderBook<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreOrderBook")
    }
}

impl OrderBook for StoreOrderBook<'_> {
    fn order(&self, order_id: &OrderId) -> Result<Option<OrderView>, LookupError> {
        let Some(order) = self.0.order(order_id)? else { return Ok(None) };
        let records = self.0.order_records(order_id)?.into_iter().collect();
        Ok(Some(OrderView { series: order.series, records }))
    }

    fn delivered(&self, record_ids: &[RecordId], this_batch: &str) -> Result<HashMap<RecordId, BatchId>, LookupError> {
        Ok(self.0.delivered(record_ids, this_batch)?)
    }

    fn prior_batch(&self, batch_id: &BatchId) -> Result<Option<PriorBatch>, LookupError> {
        Ok(self.0.batch(batch_id.as_str())?.map(|row| {
            if row.batch.state == BatchState::Rejected { PriorBatch::Rejected } else { PriorBatch::NotRejected }
        }))
    }

    fn knows_deliveries(&self) -> bool {
        true
    }
}
