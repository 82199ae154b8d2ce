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

    /// Returns false when the user was not a member.
    pub async fn remove_group_member(&mut self, group_id: &str, user_id: &str) -> Result<bool> {
        let r = sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND user_id = $2")
            .bind(group_id)
            .bind(user_id)
            .execute(self.conn())
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Every principal of a kind, by name.
    pub async fn principals(&mut self, kind: &str) -> Result<Vec<PrincipalRecord>> {
        Ok(
            sqlx::query_as("SELECT * FROM principals WHERE kind = $1 ORDER BY name")
                .bind(kind)
                .fetch_all(self.conn())
                .await?,
        )
    }

    /// The members of a group, by name.
    pub async fn group_members(&mut self, group_id: &str) -> Result<Vec<PrincipalRecord>> {
        Ok(sqlx::query_as(
            "SELECT p.* FROM group_members m JOIN principals p ON p.id = m.user_id \
             WHERE m.group_id = $1 ORDER BY p.name",
        )
        .bind(group_id)
        .fetch_all(self.conn())
        .await?)
    }

    /// The groups a user belongs to, by name.
    pub async fn groups_of(&mut self, user_id: &str) -> Result<Vec<PrincipalRecord>> {
        Ok(sqlx::query_as(
            "SELECT p.* FROM group_members m JOIN principals p ON p.id = m.group_id \
             WHERE m.user_id = $1 ORDER BY p.name",
        )
        .bind(user_id)
        .fetch_all(self.conn())
        .await?)
    }

    /// Disables a principal (from `at`) or enables it again (`None`).
    pub async fn set_principal_disabled(&mut self, id: &str, at: Option<i64>) -> Result<()> {
        sqlx::query("UPDATE principals SET disabled_at = $2 WHERE id = $1")
            .bind(id)
            .bind(at)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Removes a principal with its group memberships, sign-in state and external identities
    /// (its drive must be gone first).
    pub async fn remove_principal(&mut self, id: &str) -> Result<()> {
        for statement in [
            "DELETE FROM group_members WHERE user_id = $1 OR group_id = $1",
            "DELETE FROM refresh_tokens WHERE principal_id = $1",
            "DELETE FROM oauth_codes WHERE principal_id = $1",
            "DELETE FROM device_codes WHERE principal_id = $1",
            "DELETE FROM external_identities WHERE principal_id = $1",
        ] {
            sqlx::query(statement).bind(id).execute(self.conn()).await?;
        }
        sqlx::query("DELETE FROM principals WHERE id = $1")
            .bind(id)
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

    /// Stores a setting, replacing the value it had.
    pub async fn set_setting(&mut self, key: &str, value: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}
