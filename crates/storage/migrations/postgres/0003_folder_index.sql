-- Folders by parent: a copy finds a level's subfolders without reading its files.
CREATE INDEX items_folders ON items (parent_id) WHERE is_folder = 1;
