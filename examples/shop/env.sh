# The example shop's connection variables, for `. examples/shop/env.sh` from the repository's
# root. The map names these variables; their values never go in the map.
export SHOP_DATABASE_URL=postgres://postgres@127.0.0.1:5432/example_shop
export SUPPORT_DATABASE_URL=mysql://root@127.0.0.1:3306/example_support
export NEWS_DATABASE_URL="sqlite://$PWD/var/example/news.db"
export POINTS_BASE_URL=http://127.0.0.1:8091
export POINTS_TOKEN=example-points-token
export MADOGUCHI_DATAMAP=examples/shop/datamap.toml
