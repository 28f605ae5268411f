# A shared portal dashboard with one Log Analytics chart per tile of local.dashboard_tiles. The JSON lives
# in a template so it can be exported from / compared with the portal; queries are JSON-encoded by the
# template, never pasted into it, so a quote in KQL cannot break the document.
resource "azurerm_portal_dashboard" "this" {
  name                = var.names.dashboard
  resource_group_name = var.resource_group_name
  location            = var.location

  dashboard_properties = templatefile("${path.module}/templates/dashboard.json.tftpl", {
    app_insights_id = azurerm_application_insights.this.id
    tiles           = local.dashboard_tiles
  })

  tags = merge(var.tags, { "hidden-title" = "cutover: PostgreSQL to Iceberg" })
}
