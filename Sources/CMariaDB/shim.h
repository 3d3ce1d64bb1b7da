// libmariadb (Debian: libmariadb-dev), the C client for MariaDB and MySQL.
#include <mariadb/mysql.h>
