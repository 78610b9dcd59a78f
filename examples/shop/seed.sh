#!/bin/sh
# Creates the example shop's systems on this machine and fills them: the shop in PostgreSQL
# (database example_shop), support in MariaDB (example_support), the newsletter in SQLite
# (var/example/news.db). Run again to start over. Needs psql, mariadb and python3.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
pg=${EXAMPLE_POSTGRES:-postgres://postgres@127.0.0.1:5432}
my_host=${EXAMPLE_MARIADB_HOST:-127.0.0.1}

psql -q -v ON_ERROR_STOP=1 "$pg/test" \
  -c "DROP DATABASE IF EXISTS example_shop" -c "CREATE DATABASE example_shop"
psql -q -v ON_ERROR_STOP=1 "$pg/example_shop" -f "$here/seed/shop.sql"

mariadb -h "$my_host" -u root -e \
  "DROP DATABASE IF EXISTS example_support; CREATE DATABASE example_support CHARACTER SET utf8mb4"
mariadb -h "$my_host" -u root example_support < "$here/seed/support.sql"

mkdir -p var/example
rm -f var/example/news.db
python3 - var/example/news.db "$here/seed/news.sql" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
with open(sys.argv[2], encoding="utf-8") as f:
    db.executescript(f.read())
db.commit()
PY
echo "seeded: example_shop (PostgreSQL), example_support (MariaDB), var/example/news.db (SQLite)"
