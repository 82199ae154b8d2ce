use super::{PrincipalRecord, Tx};
use crate::Result;

impl Tx {
    pub async fn insert_principal(&mut self, p: &PrincipalRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO principals (id, kind, name, display_name, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&p.id)
        .bind(&p.kind)
        .bind(&p.name)
        .bind(&p.display_name)
        .bind(p.created_at)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    pub async fn principal(&mut self, id: &str) -> Result<Option<PrincipalRecord>> {
        Ok(sqlx::query_as("SELECT * FROM principals WHERE id = $1")
            .bind(id)
            .fetch_optional(self.conn())
            .await?)
    }

    pub async fn principal_by_name(
        &mut self,
        kind: &str,
        name: &str,
    ) -> Result<Option<PrincipalRecord>> {
        Ok(
            sqlx::query_as("SELECT * FROM principals WHERE kind = $1 AND name = $2")
                .bind(kind)
                .bind(name)
                .fetch_optional(self.conn())
                .await?,
        )
    }

    pub async fn add_group_member(&mut self, group_id: &str, user_id: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO group_members (group_id, user_id) VALUES ($1, $2) \
             ON CONFLICT (group_id, user_id) DO NOTHING",
        )
        .bind(group_id)
        .bind(user_id)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    pub async fn is_group_member(&mut self, group_id: &str, user_id: &str) -> Result<bool> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT 1 FROM group_members WHERE group_id = $1 AND user_id = $2")
                .bind(group_id)
                .bind(user_id)
                .fetch_optional(self.conn())
                .await?;
        Ok(row.is_some())
    }

    pub async fn setting(&mut self, key: &str) -> Result<Option<String>> {
        let row: Option<(String,)> = sqlx::query_as("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(self.conn())
            .await?;
        Ok(row.map(|r| r.0))
    }

    /// Stores `value` unless the key already has one; returns the value that is stored.
    pub async fn setting_or_insert(&mut self, key: &str, value: &str) -> Result<String> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(value)
        .execute(self.conn())
        .await?;
        Ok(self
            .setting(key)
            .await?
            .unwrap_or_else(|| value.to_string()))
    }
}
