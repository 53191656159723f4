global using Version = Kv.Storage.Versions.Version;
