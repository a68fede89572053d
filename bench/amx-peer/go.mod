module trip-msa/bench/amx-peer

go 1.19
