//! The table's definition, used to create it in DynamoDB Local and checked against
//! `infra/template.yaml` by a test, so the two cannot drift.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType,
};
use aws_sdk_dynamodb::Client;

use super::keys::*;

/// (index name, partition key attribute, sort key attribute)
pub const INDEXES: &[(&str, &str, &str)] = &[
    (GSI1, GSI1PK, GSI1SK),
    (GSI2, GSI2PK, GSI2SK),
    (BY_STATUS, BY_STATUS_PK, BY_STATUS_SK),
    (BY_REP, BY_REP_PK, BY_REP_SK),
    (BY_TOTAL, BY_TOTAL_PK, BY_TOTAL_SK),
    (BY_DUE, BY_DUE_PK, BY_DUE_SK),
    (ATTENTION, ATTENTION_PK, ATTENTION_SK),
    (CU_TOTAL, CU_TOTAL_PK, CU_TOTAL_SK),
    (CU_ATTENTION, CU_ATTENTION_PK, CU_ATTENTION_SK),
    (OUTBOX_INDEX, OUTBOX_PK, OUTBOX_SK),
];

fn key(name: &str, kind: KeyType) -> Result<KeySchemaElement, aws_sdk_dynamodb::error::BuildError> {
    KeySchemaElement::builder().attribute_name(name).key_type(kind).build()
}

/// Creates the table with its indexes (on-demand billing). Idempotent: an existing table
/// is left alone.
pub async fn create_table(client: &Client, table: &str) -> anyhow::Result<()> {
    if client.describe_table().table_name(table).send().await.is_ok() {
        return Ok(());
    }
    let mut attrs = vec![PK, SK];
    for (_, p, s) in INDEXES {
        attrs.push(p);
        attrs.push(s);
    }
    let mut req = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(PK, KeyType::Hash)?)
        .key_schema(key(SK, KeyType::Range)?);
    for a in attrs {
        req = req.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(a)
                .attribute_type(ScalarAttributeType::S)
                .build()?,
        );
    }
    for (name, p, s) in INDEXES {
        req = req.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(*name)
                .key_schema(key(p, KeyType::Hash)?)
                .key_schema(key(s, KeyType::Range)?)
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()?,
        );
    }
    req.send().await?;
    Ok(())
}
