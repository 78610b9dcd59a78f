-- The newsletter list (SQLite).
CREATE TABLE subscribers (email TEXT, topics TEXT);
INSERT INTO subscribers VALUES
  ('hanako@example.jp', '新茶の案内'),
  ('hanako.yamada@example.com', '別人の購読');
