# POST /analysis from R as a health economist would call it (httr, as the
# tutorial's client), URL and key from the environment.  Prints what the
# test checks: the ICER table, the CEAC's shape and the EVPPI of the pair.
answer <- httr::POST(
  url = Sys.getenv("LIVING_HTA_URL"),
  path = "/analysis",
  body = list(
    param_updates = jsonlite::toJSON(
      data.frame(parameter = c("p_HS1", "p_S1H"), distribution = c("beta", "beta"),
                 v1 = c(25, 50), v2 = c(150, 100))),
    seed = 11,
    wtp = "0:200000:5000",
    evppi = '[["p_HS1", "p_S1H"], "p_S1S2"]',
    evppi_method = "gam"),
  encode = "multipart",
  config = httr::add_headers(key = Sys.getenv("LIVING_HTA_KEY")))
httr::stop_for_status(answer)
result <- jsonlite::fromJSON(httr::content(answer, as = "text", encoding = "UTF-8"))

icers <- result$icers
cat("icers_class:", class(icers), "\n")
cat("icers_columns:", colnames(icers), "\n")
cat("icers_status:", icers$Status, "\n")
cat("icers_strategy:", icers$Strategy, "\n")
cat("icer:", sprintf("%.6f", icers$ICER[2]), "\n")
cat("ceac_dim:", dim(result$ceac), "\n")
cat("ceac_columns:", colnames(result$ceac), "\n")
cat("ceac_sums:", unique(round(tapply(result$ceac$Proportion, result$ceac$WTP, sum), 12)), "\n")
cat("evpi_at_100000:", sprintf("%.6f", result$evpi$EVPI[result$evpi$WTP == 100000]), "\n")
pair <- result$evppi$values[[1]]
cat("evppi_parameters:", result$evppi$parameters[[1]], "\n")
cat("evppi_at_100000:", sprintf("%.6f", pair$EVPPI[pair$WTP == 100000]), "\n")
cat("seed:", result$method$seed, "\n")
