# The original's R client (the tutorial's httr call, reference API.md),
# unchanged except that the URL and the key come from the environment, and
# that it trusts the CA in LIVING_HTA_CA when set (a self-signed front:
# README, "Trusting the certificate").
# Prints what the test checks: class, dimensions and column names.
results <- httr::POST(
  url = Sys.getenv("LIVING_HTA_URL"),
  path = "/runDARTHmodel",
  query = list(model_functions = paste0("https://raw.githubusercontent.com/",
                                        "BresMed/plumberHE/main/R/darth_funcs.R")),
  body = list(param_updates = jsonlite::toJSON(
    data.frame(parameter = c("p_HS1", "p_S1H"), distribution = c("beta", "beta"),
               v1 = c(25, 50), v2 = c(150, 100)))),
  config = c(httr::add_headers(key = Sys.getenv("LIVING_HTA_KEY")),
             if (nzchar(Sys.getenv("LIVING_HTA_CA"))) httr::config(cainfo = Sys.getenv("LIVING_HTA_CA")))) |>
  httr::content()

cat("class:", class(results), "\n")
cat("dim:", dim(results), "\n")
cat("columns:", colnames(results), "\n")
cat("numeric:", all(vapply(results, is.numeric, logical(1))), "\n")
cat("complete:", all(stats::complete.cases(results)), "\n")
