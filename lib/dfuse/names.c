/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Names of DFU states and statuses (DFU 1.1 section 6.1.2), for every error message. */
#include "dfuse/dfuse.h"
#include "util/string-table.h"

static const char *const state_names[] = {
    [STDFU_DFU_APP_IDLE] = "appIDLE",
    [STDFU_DFU_APP_DETACH] = "appDETACH",
    [STDFU_DFU_IDLE] = "dfuIDLE",
    [STDFU_DFU_DNLOAD_SYNC] = "dfuDNLOAD-SYNC",
    [STDFU_DFU_DNBUSY] = "dfuDNBUSY",
    [STDFU_DFU_DNLOAD_IDLE] = "dfuDNLOAD-IDLE",
    [STDFU_DFU_MANIFEST_SYNC] = "dfuMANIFEST-SYNC",
    [STDFU_DFU_MANIFEST] = "dfuMANIFEST",
    [STDFU_DFU_MANIFEST_WAIT_RESET] = "dfuMANIFEST-WAIT-RESET",
    [STDFU_DFU_UPLOAD_IDLE] = "dfuUPLOAD-IDLE",
    [STDFU_DFU_ERROR] = "dfuERROR",
};

static const struct {
    const char *name;
    const char *description;
} statuses[] = {
    [STDFU_DFU_OK] = { "OK", "no error" },
    /* The DfuSe ROMs report errTARGET for an address outside the selected memory. */
    [STDFU_DFU_ERR_TARGET] = { "errTARGET", "address out of range" },
    [STDFU_DFU_ERR_FILE] = { "errFILE", "file fails a vendor-specific check" },
    [STDFU_DFU_ERR_WRITE] = { "errWRITE", "device cannot write memory" },
    [STDFU_DFU_ERR_ERASE] = { "errERASE", "memory erase failed" },
    [STDFU_DFU_ERR_CHECK_ERASED] = { "errCHECK_ERASED", "memory erase check failed" },
    [STDFU_DFU_ERR_PROG] = { "errPROG", "program memory function failed" },
    [STDFU_DFU_ERR_VERIFY] = { "errVERIFY", "programmed memory failed verification" },
    [STDFU_DFU_ERR_ADDRESS] = { "errADDRESS", "address out of range" },
    [STDFU_DFU_ERR_NOTDONE] = { "errNOTDONE", "end of download before all data was received" },
    [STDFU_DFU_ERR_FIRMWARE] = { "errFIRMWARE", "no valid firmware, cannot run the application" },
    /* ST ROMs: read protection is active. */
    [STDFU_DFU_ERR_VENDOR] = { "errVENDOR", "vendor-specific error, read protection active?" },
    [STDFU_DFU_ERR_USBR] = { "errUSBR", "unexpected USB reset" },
    [STDFU_DFU_ERR_POR] = { "errPOR", "unexpected power-on reset" },
    [STDFU_DFU_ERR_UNKNOWN] = { "errUNKNOWN", "unknown error" },
    [STDFU_DFU_ERR_STALLEDPKT] = { "errSTALLEDPKT", "device stalled an unexpected request" },
};

const char *stdfu_dfu_state_to_string(int state) {
    return TABLE_NAME(state_names, state, "unknown state");
}

const char *stdfu_dfu_status_to_string(int status) {
    if (status >= 0 && (size_t) status < ELEMENTSOF(statuses))
        return statuses[status].name;
    return "unknown status";
}

const char *stdfu_dfu_status_description(int status) {
    if (status >= 0 && (size_t) status < ELEMENTSOF(statuses))
        return statuses[status].description;
    return "not a DFU status code";
}

static const char *const phase_names[] = {
    [STDFU_DFUSE_PHASE_ERASE] = "erase",
    [STDFU_DFUSE_PHASE_WRITE] = "write",
    [STDFU_DFUSE_PHASE_VERIFY] = "verify",
    [STDFU_DFUSE_PHASE_READ] = "read",
    [STDFU_DFUSE_PHASE_LEAVE] = "leave",
};

const char *stdfu_dfuse_phase_to_string(stdfu_dfuse_phase p) {
    return TABLE_NAME(phase_names, p, "unknown");
}
