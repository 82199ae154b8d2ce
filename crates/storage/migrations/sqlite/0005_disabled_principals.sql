-- When an operator disabled a principal (NULL: enabled). A disabled principal's tokens are
-- refused at once, on every node.
ALTER TABLE principals ADD COLUMN disabled_at INTEGER;
