//! Reading one order. A customer sees only its own; another tenant's id is simply absent.

use crate::auth::{Actor, Permission};
use crate::error::Error;
use crate::ids::OrderId;
use crate::order::Order;
use crate::ports::Deps;

pub async fn get_order(deps: &Deps, actor: &Actor, id: OrderId) -> Result<Order, Error> {
    actor.require(Permission::OrdersRead)?;
    let order = deps.store.get_order(&actor.company_id, id).await?;
    match order {
        Some(o) if actor.customer_id.is_none() || o.customer_id == actor.customer_id => Ok(o),
        // A customer asking for someone else's order learns nothing, not even that it exists.
        _ => Err(Error::not_found("order", id)),
    }
}
