/* The bus tables every service schema holds (common/schema/), embedded at build time. */
#ifndef CS_BUS_MIGRATIONS_H
#define CS_BUS_MIGRATIONS_H
#include "cs_db.h"
extern const cs_migration_t cs_bus_migrations[];
#endif
