-- Support (MariaDB). A ticket is the subject's by their address or by their member number.
CREATE TABLE tickets (id int AUTO_INCREMENT PRIMARY KEY, email varchar(200), customer_id int, body text,
  archived tinyint NOT NULL DEFAULT 0);
INSERT INTO tickets (email, customer_id, body) VALUES
  ('hanako@example.jp', NULL, '配送日を変えたい'),
  (NULL, 1, '電話での問い合わせ: 急須の蓋が欠けていた'),
  ('hanako.yamada@example.com', 2, '別人の問い合わせ'),
  (NULL, NULL, '誰のものでもない問い合わせ');
