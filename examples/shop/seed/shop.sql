-- The online shop (PostgreSQL). 山田 花子 <hanako@example.jp> files the requests; the
-- namesake at another address is another person; rows without an owner belong to nobody.
CREATE TABLE customers (id serial PRIMARY KEY, email text, name text, address text, fraud_score int,
  do_not_contact boolean NOT NULL DEFAULT false);
CREATE INDEX customers_email ON customers (email);
CREATE TABLE orders (id serial PRIMARY KEY, customer_id int, ordered_on date, items text);
CREATE INDEX orders_customer ON orders (customer_id);
INSERT INTO customers (email, name, address, fraud_score) VALUES
  ('hanako@example.jp', '山田 花子', '東京都千代田区丸の内1-1-1', 12),
  ('hanako.yamada@example.com', '山田 花子', '大阪府大阪市北区梅田2-2-2', 3),
  (NULL, '名無し', NULL, 0);
INSERT INTO orders (customer_id, ordered_on, items) VALUES
  (1, '2026-04-01', '新茶 八十八夜 2袋'),
  (1, '2026-05-10', '急須（常滑焼）'),
  (2, '2026-04-02', '別人の注文'),
  (3, '2026-04-03', '名無しの注文'),
  (NULL, '2026-04-04', '持ち主のない注文');
