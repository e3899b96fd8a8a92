package herokupartner

// StoreTimeoutForTest is the bound of one store write made by a worker.
const StoreTimeoutForTest = storeTimeout
