// StorageConformance module
