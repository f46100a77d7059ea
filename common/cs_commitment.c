#include <stdio.h>
#include <string.h>
#include "cs_commitment.h"
#include "cs_config.h"

static cs_commitment_t s_table[4] = {
    {60, 24 * 60},  /* P1 */
    {120, 24 * 60}, /* P2 */
    {120, 48 * 60}, /* P3 */
    {120, 48 * 60}, /* P4 */
};

int cs_commitment_load(void)
{
    for (int i = 0; i < 4; i++) {
        char name[64];
        int64_t v;
        snprintf(name, sizeof(name), "CS_COMMIT_P%d_RESPONSE_MIN", i + 1);
        if (cs_env_int(name, s_table[i].response_min, 1, 525600, &v) < 0)
            return -1;
        s_table[i].response_min = (int)v;
        snprintf(name, sizeof(name), "CS_COMMIT_P%d_RESOLUTION_MIN", i + 1);
        if (cs_env_int(name, s_table[i].resolution_min, 1, 525600, &v) < 0)
            return -1;
        s_table[i].resolution_min = (int)v;
    }
    return 0;
}

cs_commitment_t cs_commitment_for(const char *priority)
{
    if (priority && priority[0] == 'P' && priority[1] >= '1' && priority[1] <= '4' &&
        priority[2] == 0)
        return s_table[priority[1] - '1'];
    return s_table[2];
}
