//! The ledger's tables for both engines. The primary key on `seq` and the unique `tree_size`
//! are the indexes the ledger reads by; nothing else is queried.

use brain_store::{Migration, Migrations};

pub const MIGRATIONS: Migrations = Migrations {
    owner: "ledger",
    postgres: &[Migration::new(
        1,
        "ledger entries and checkpoints",
        include_str!("../migrations/postgres/0001_ledger.sql"),
    )],
    sqlite: &[Migration::new(
        1,
        "ledger entries and checkpoints",
        include_str!("../migrations/sqlite/0001_ledger.sql"),
    )],
};
